"""The research report's final-parameters line."""

from __future__ import annotations


def test_final_parameters_show_choices_and_flags_as_themselves():
    """A changed choice parameter (``rule=both``) crashed the report line (it was formatted
    as a number); flags printed "n/a"."""
    from tsys.cli.research import param_text
    from tsys.format import figure

    assert param_text("both") == "both"
    assert param_text(False) == "False"
    assert param_text(0.25) == figure(0.25) and param_text(12) == figure(12)
