from data_prep import read_score
from nesinterp.examples import EXAMPLES, example_path


def test_bundled_example_files_are_what_the_code_composes():
    for name, compose in EXAMPLES.items():
        score = compose()
        assert score.duration == 16.0
        assert read_score(example_path(name)).same_music(score), f"run python -m nesinterp.examples ({name})"
        # all four voices play, as in NES music
        assert all(score.notes[:, v].any() for v in range(4))
