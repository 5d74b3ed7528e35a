"""Engine messages in the window's words: flags become the controls that set them."""

from __future__ import annotations

from lossviz.messages import for_window


def test_flags_become_the_windows_controls():
    engine = ("CIFAR-10 not found under /data: download it (needs internet: --download, or "
              "the Download button) or point the data folder (--data-root) at the folder "
              "holding cifar-10-batches-py")
    assert for_window(engine) == (
        "CIFAR-10 not found under /data: download it (needs internet: the Download button) or "
        "point the data folder (the Data folder field) at the folder holding "
        "cifar-10-batches-py")
    assert for_window("checkpoint b.pt differs: see --checkpoint2 FILE") == (
        "checkpoint b.pt differs: see Checkpoint B")
    assert for_window("try --precision fp32 on --device cpu") == "try Precision: fp32 on Device: cpu"


def test_the_class_count_hint_names_the_checkpoint_once():
    engine = ("dataset tensors:y.npz has labels up to 5000000 but only 8 different ones, which "
              "would make a 5000001-way output layer; give the class count with --num-classes "
              "or a checkpoint, or relabel the classes 0..K-1")
    text = for_window(engine)
    assert "--num-classes" not in text and text.count("checkpoint") == 1
    assert text.endswith("give a checkpoint (its output layer gives the class count), or "
                         "relabel the classes 0..K-1")


def test_a_control_named_twice_is_said_once():
    assert for_window("use --download, or --download") == "use the Download button"
