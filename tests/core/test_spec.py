import numpy as np
import pytest

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DirectionSpec, GridSpec, LossSpec, Range, Recipe


def test_range_parse_and_values():
    r = Range.parse("-1:1:5")
    assert (r.min, r.max, r.num) == (-1.0, 1.0, 5)
    np.testing.assert_allclose(r.values(), [-1, -0.5, 0, 0.5, 1])
    assert str(r) == "-1:1:5"


@pytest.mark.parametrize("text", ["1:2", "a:b:c", "1:0:5", "0:1:0", "0:1:2.5", "nan:1:3"])
def test_range_rejects_malformed(text):
    with pytest.raises(InputError):
        Range.parse(text)


def test_grid_and_loss_specs_round_trip_non_square():
    s = GridSpec(x=Range(-1, 1, 7), y=Range(-0.5, 0.5, 3))
    d = s.to_dict()
    assert d["x"] == {"min": -1.0, "max": 1.0, "num": 7}
    back = GridSpec.from_dict(d)
    assert back == s
    assert back.shape == (3, 7)
    loss = LossSpec(split="both")
    assert LossSpec.from_dict(loss.to_dict()).splits == ("train", "test")
    line = GridSpec(x=Range(-1, 2, 4), y=None)
    assert GridSpec.from_dict(line.to_dict()).shape == (4,)


def test_recipe_round_trips_through_json_and_reads_first_version_specs():
    r = Recipe(grid=GridSpec(x=Range(-1, 1, 7), y=Range(-0.5, 0.5, 3)), loss=LossSpec(split="both"),
               directions=DirectionSpec(method="target", params={"checkpoint": "/b.pt"}))
    assert Recipe.from_json(r.to_json()) == r
    import pickle

    assert pickle.loads(pickle.dumps(r)) == r
    old = {"model": {"name": "resnet20", "checkpoint": "/a.pt"}, "dataset": {"name": "cifar10"},
           "directions": {"method": "random", "seed": 3},
           "surface": {"x": {"min": -1, "max": 1, "num": 5}, "y": None, "split": "test",
                       "loss": "mse", "precision": "fp32"}}
    back = Recipe.from_specs(old)
    assert back.model.name == "resnet20" and back.directions.seed == 3 and back.is_line
    assert (back.loss.split, back.loss.name, back.compute.precision) == ("test", "mse", "fp32")
    assert Recipe.from_specs({}) is None


def test_direction_spec_validates_choices():
    with pytest.raises(InputError, match="xnorm"):
        DirectionSpec(xnorm="bogus")
