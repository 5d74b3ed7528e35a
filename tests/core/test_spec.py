import numpy as np
import pytest

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DirectionSpec, Range, SurfaceSpec


def test_range_parse_and_values():
    r = Range.parse("-1:1:5")
    assert (r.min, r.max, r.num) == (-1.0, 1.0, 5)
    np.testing.assert_allclose(r.values(), [-1, -0.5, 0, 0.5, 1])
    assert str(r) == "-1:1:5"


@pytest.mark.parametrize("text", ["1:2", "a:b:c", "1:0:5", "0:1:0", "0:1:2.5", "nan:1:3"])
def test_range_rejects_malformed(text):
    with pytest.raises(InputError):
        Range.parse(text)


def test_surface_spec_round_trip_non_square():
    s = SurfaceSpec(x=Range(-1, 1, 7), y=Range(-0.5, 0.5, 3), split="both")
    d = s.to_dict()
    assert d["x"] == {"min": -1.0, "max": 1.0, "num": 7}
    back = SurfaceSpec.from_dict(d)
    assert back == s
    assert back.shape == (3, 7)
    assert back.splits == ("train", "test")
    line = SurfaceSpec(x=Range(-1, 2, 4), y=None)
    assert SurfaceSpec.from_dict(line.to_dict()).shape == (4,)


def test_direction_spec_validates_choices():
    with pytest.raises(InputError, match="xnorm"):
        DirectionSpec(xnorm="bogus")
