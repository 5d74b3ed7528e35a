"""Write ``lossviz_core/data/splits/digits.npz``: which of scikit-learn's 1,797 digits are
the bundled demo's training and test examples (``train_test_split(test_size=360,
random_state=0, stratify=labels)``, as the digits source made them with scikit-learn at
every start). Reading the split from this file instead spares each start importing
scikit-learn's model selection (about 1.5 s); ``tests/core/test_data_digits.py`` checks
the two agree.

    python scripts/make_digits_split.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

OUT = Path(__file__).resolve().parents[1] / "lossviz_core" / "data" / "splits" / "digits.npz"


def main() -> None:
    labels = load_digits().target
    train, test = train_test_split(np.arange(len(labels)), test_size=360, random_state=0,
                                   stratify=labels)
    np.savez_compressed(OUT, train=train.astype(np.uint16), test=test.astype(np.uint16))
    print(f"wrote {OUT} ({len(train)} train, {len(test)} test)")


if __name__ == "__main__":
    main()
