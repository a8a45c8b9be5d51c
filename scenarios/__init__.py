"""The scenario library shipped with povsim (installed as ``povsim.scenarios_data``).

``povsim scenarios`` lists these files; every command and :func:`povsim.load_scenario` accept
a library name (``baseline``, ``no_line_merge``) where no such file exists.
"""
