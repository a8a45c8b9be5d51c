"""Ecological ranger posts and compensation (seed (十八), src/povsim/pathways/ecological.py) and
the source split by need (``budget.sources.*.county_rule: need``, src/povsim/planning.py)."""

from __future__ import annotations

import numpy as np
import pytest
import povsim
from povsim.errors import ScenarioError
from povsim.model import PovertyModel
from povsim.pathways.ecological import split_posts

#: only the ecological pathway acts; no shocks, no income growth or luck, money never short:
#: incomes can be computed by hand
ISOLATED = {
    "population.scale": 2000,
    "pathways.production.enabled": False,
    "pathways.relocation.enabled": False,
    "pathways.dibao.enabled": False,
    "pathways.medical.enabled": False,
    "pathways.reconstruction.enabled": False,
    "pathways.housing_renovation.enabled": False,
    "services.enabled": False,
    "shocks.illness.enabled": False,
    "shocks.disasters.enabled": False,
    "population.income_growth": 0.0,
    "population.income_volatility": 0.0,
    "budget.scale": 100.0,  # the marginal posts drawn in full never run a county short
    "pathways.ecological.capacity": {2015: 20000.0, 2016: 40000.0},
    "pathways.ecological.wage": 9000.0,
    "pathways.ecological.compensation.per_household": 1000.0,
    "pathways.ecological.compensation.net_share": 0.4,
    "pathways.ecological.compensation.years": 2,
}


def _model(**over: object) -> PovertyModel:
    scn = povsim.load_scenario("scenarios/baseline.yaml").with_overrides({**ISOLATED, **over})
    return PovertyModel(scn, seed=3)


def _run_year(model: PovertyModel) -> None:
    for _ in range(12):
        model.step()


def test_split_posts_by_hand() -> None:
    """10 posts, holders 2 and 0, candidates 1 and 3: the holders keep their 2, the 8 left go
    1:3 (2 and 6), so 4 and 6. Fewer posts (2) than holders (2 + 2): each county keeps half."""
    np.testing.assert_allclose(split_posts(10.0, np.array([2.0, 0.0]), np.array([1.0, 3.0])),
                               [4.0, 6.0])
    np.testing.assert_allclose(split_posts(2.0, np.array([2.0, 2.0]), np.array([5.0, 0.0])),
                               [1.0, 1.0])
    np.testing.assert_allclose(split_posts(3.0, np.zeros(2), np.zeros(2)), [0.0, 0.0])


def test_wage_and_compensation_are_the_income_difference() -> None:
    """Against the same run without the pathway, every household's income of 2015 differs by
    exactly its wage (9,000 a post) plus 40% of a 1,000-yuan compensation payment (400), and
    the pathway's spending is 20,000 posts x 9,000 + weight x contracts x 1,000."""
    on, off = _model(), _model(**{"pathways.ecological.enabled": False})
    _run_year(on)
    _run_year(off)
    hh = on.households
    post = hh.eco_post == 2
    comp = hh.eco_comp > 0
    assert post.sum() > 0 and comp.sum() > 0
    want = 9000.0 * post + 400.0 * comp
    np.testing.assert_allclose(hh.income_ytd - off.households.income_ytd, want, atol=1e-6)
    assert np.all(hh.registered_year[post] >= 0) and np.all(hh.n_labour[post] > 0)
    np.testing.assert_allclose(hh.eco_comp[comp], 400.0)
    # posts are bought with the capacity rule: every county buys its share of the 20,000 posts
    # (money is ample), the marginal post charged in part, so the 20,000 posts cost exactly
    # 20,000 x 9,000 however many simulated households were drawn to fill them
    spent = on.ledger.spent.sum(axis=(0, 2))[on.ledger.pathways.index("ecological")]
    assert spent == pytest.approx(20000 * 9000.0 + on.weight * 1000.0 * comp.sum())
    # a post is one household of the registered poor with labour in the four poverty regions
    rest = list(on.places.region_names).index("rest_of_province")
    assert not np.any(post & (hh.region == rest))
    # about the 20,000 posts (10 simulated households), the marginal ones drawn per county
    assert 5 <= post.sum() <= 15


def test_holders_renewed_and_contracts_end() -> None:
    """A post held in 2015 is held again in 2016 (posts rise to 40,000, holders first, kept
    after exit); a two-year contract started in 2015 pays in 2015 and 2016, not in 2017."""
    m = _model()
    _run_year(m)
    hh = m.households
    held = np.flatnonzero(hh.eco_post == 2)
    started = np.flatnonzero(hh.eco_comp_start == 2015)
    _run_year(m)
    assert np.all(hh.eco_post[held] == 2)
    assert (hh.eco_post == 2).sum() > held.size
    np.testing.assert_allclose(hh.eco_comp[started], 400.0)
    _run_year(m)
    assert np.all(hh.eco_comp[started] == 0.0)


def test_posts_end_at_exit_without_keep_after_exit() -> None:
    """With keep_after_exit false a household that exited loses its post the next January."""
    m = _model(**{"pathways.ecological.keep_after_exit": False})
    _run_year(m)
    hh = m.households
    exited = np.flatnonzero((hh.eco_post == 2) & ~hh.registered)
    assert exited.size > 0
    m.step()
    assert np.all(hh.eco_post[exited] == 0) and np.all(hh.eco_wage[exited] == 0)


def test_new_post_with_delay_costs_the_months_after_it() -> None:
    """A new post selected in January with a 3-month delay costs 9 months of wage
    (9,000 x 9 / 12 = 6,750); a renewal costs the full 9,000."""
    m = _model(**{"pathways.ecological.delay_months": 3})
    pw = m.pathways["ecological"]
    ctx = m.run_state.contexts["ecological"]
    hh = m.households
    m.step()
    idx = np.array([np.flatnonzero(hh.eco_post == 1)[0]])
    assert hh.eco_wage[idx[0]] == 0.0
    hh.eco_post[idx] = 0  # asked as a candidate again
    assert pw.cost(ctx, idx, 2015)[0] == pytest.approx(6750.0)
    hh.eco_post[idx] = 1
    for _ in range(3):
        m.step()
    assert hh.eco_post[idx[0]] == 2 and hh.eco_wage[idx[0]] == 9000.0
    assert pw.cost(ctx, idx, 2016)[0] == pytest.approx(9000.0)


def test_source_by_need_follows_posts() -> None:
    """The ecological source goes only to counties with posts or contracts (none in the rest
    of the province), all of it; the other sources are split as before."""
    m = _model()
    m.step()
    led = m.ledger
    s = led.sources.index("ecological_transfers")
    alloc = led.new_money[:, s]
    P = m.places
    rest = list(P.region_names).index("rest_of_province")
    assert alloc.sum() == pytest.approx(0.12e9 * 100.0)  # 2015 amount x budget.scale
    assert np.all(alloc[P.county_region == rest] == 0.0)


def test_unknown_region_is_a_scenario_error() -> None:
    """A region that does not exist is refused with the key that names it."""
    with pytest.raises(ScenarioError, match=r"pathways\.ecological\.regions"):
        povsim.load_scenario({"pathways": {"ecological": {"regions": ["mars"]}}})
