"""Which square brackets in an answer are citations (rag.markers.split_markers)."""

from __future__ import annotations

from rag.markers import split_markers


def test_a_marker_is_removed_and_names_its_passage() -> None:
    assert split_markers("Adam uses beta2 0.999 [2].", 3) == ("Adam uses beta2 0.999.", [1])
    assert split_markers("Both say so [1, 3].", 3) == ("Both say so.", [0, 2])
    assert split_markers("Según la fuente [Fuente 2].", 3) == ("Según la fuente.", [1])


def test_a_bracket_after_a_word_that_introduces_a_value_is_content() -> None:
    # The "el vector j se mueve a las coordenadas [1]": [1, 2] names two real passages.
    moved = "El vector j se mueve a las coordenadas [1, 2]."
    assert split_markers(moved, 3) == (moved, [])
    assert split_markers("The columns [1, 2] span the plane.", 3)[1] == []
    assert split_markers("Set v = [2, 3] first.", 3)[1] == []


def test_a_bracket_copied_from_the_sources_or_naming_no_passage_stays() -> None:
    assert split_markers("The result is [1, 2].", 3, literal="maps to [1,2] here")[1] == []
    assert split_markers("It returns [4, 5].", 3) == ("It returns [4, 5].", [])
    assert split_markers("He wrote it so [sic].", 3) == ("He wrote it so [sic].", [])


def test_a_marker_used_as_a_noun_moves_to_the_end_without_its_preposition() -> None:
    assert split_markers("It is mentioned in [2].", 3) == ("It is mentioned.", [1])
