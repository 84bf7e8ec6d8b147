"""Which GPU ids a worker hands out when its environment already restricts them."""

from torc.runner.resources import visible_gpus


def test_preset_ids_are_the_ones_handed_out():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}) == [2, 3]


def test_an_empty_preset_means_no_gpus():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_uuids_are_refused_with_a_warning(caplog):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-5f2c"}) == []
    assert "not a list of GPU indices" in caplog.text
