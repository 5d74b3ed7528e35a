"""Fixtures shared by the engine's tests, and the ``fast`` marker.

``pytest -m fast tests/core`` is the inner loop: every engine test but the slow ones below
(processes killed on purpose, Ray clusters, whole studies, trained models, rendered
figures), about a minute on a quiet 2-core machine. A new test is fast unless listed here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

SLOW_MODULES = ("test_trust", "test_trust_inputs", "test_trust_plans", "test_ray", "test_studies",
                "test_studies_ray", "test_benchmarks", "test_plugins", "test_curvature_cli",
                "test_readme", "test_isolation", "test_layers", "test_lm_hf", "test_connect", "test_study_connectivity",
                "test_study_shakespeare",
                # measured over 1 s a module in `-m fast --durations=0` (2026-12-07)
                "test_trust_disk", "test_trust_files", "test_trust_code", "test_trust_writes",
                "test_animate", "test_lm_pytorch", "test_align", "test_directions_seeded",
                "test_track_callbacks", "test_track_train", "test_executors", "test_export_files",
                "test_curvature_products", "test_track", "test_plane3")
SLOW_TESTS = (
    "test_nested_resnet_folds_without_touching_the_model", "test_demo_surface_plot_and_info",
    "test_convexity_map_is_stored_beside_the_loss_and_resumes",
    "test_density_moments_are_gauss_quadrature_and_estimate_the_trace",
    "test_report_is_written_and_drawn", "test_tiny_mlp_matches_the_full_autograd_hessian",
    "test_curvature_measure_over_a_grid_equals_a_direct_eigendecomposition",
    "test_streamed_evaluation_equals_the_on_device_one",
    "test_large_batch_model_retrains_from_the_shared_init",
    "test_no_pyplot_and_no_backend_change", "test_pdf_has_the_requested_page_size_and_renders",
    "test_svg_of_a_compare_grid_renders_with_librsvg",
    "test_svg_of_one_result_renders_with_librsvg", "test_every_kind_and_format_reads_back",
    "test_no_global_backend_or_pyplot", "test_pca_plane_stores_trajectory_with_losses_and_variance",
    "test_pca_ranges_fit_the_whole_trajectory_with_a_margin", "test_every_model_runs_and_traces",
    "test_archives_give_the_eager_surface", "test_data_parallel_and_compiled_state_dicts_load",
    "test_every_model_source_resumes_from_the_result_file_alone",
    "test_torchvision_resnet18_centre_is_its_plain_loss",
    "test_a_grayscale_model_reads_an_image_folder_in_one_channel",
    "test_plane_and_curve_report_the_barrier_before_and_after",
    "test_seeds_resume_from_the_file_alone", "test_plane_resumes_from_its_file_alone",
    "test_a_local_ray_ends_with_its_driver",
    "test_a_lost_object_ends_the_run_with_one_line_and_a_resumable_file",
    "test_a_resumed_hub_model_neither_downloads_nor_runs_its_code_unasked",
    "test_training_reports_the_plain_next_token_loss_and_token_accuracy",
    "test_the_landscape_centre_is_the_plain_next_token_loss",
    "test_the_pca_plane_of_a_training_run_and_the_interpolation_between_two",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        if path.parent.name != "core":
            continue
        name = item.name.split("[")[0]
        if path.stem not in SLOW_MODULES and name not in SLOW_TESTS:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def cluster():
    """One local Ray for the whole run (it takes seconds to start): 2 CPUs, no dashboard, a
    small object store, workers at normal priority as RayExecutor's own local Ray."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        yield ray
        return
    # the workers see the test plugin (tests/plugin), as nodes with it installed would
    plugin = str(Path(__file__).resolve().parents[1] / "plugin")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20,
             log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {"PYTHONPATH": plugin}},
             _system_config={"worker_niceness": 0})
    yield ray
    ray.shutdown()


@pytest.fixture
def cut_after_one_chunk(monkeypatch):
    """``arm()``: the next grid stops after its first chunk as if Ctrl-C was pressed."""

    def arm() -> None:
        from lossviz_core.run import grid

        real = grid.iter_surface

        def interrupted(*a, **k):
            gen = real(*a, **k)
            yield next(gen)
            raise KeyboardInterrupt

        monkeypatch.setattr("lossviz_core.run.executor.iter_surface", interrupted)

    return arm


@pytest.fixture
def one_thread():
    """Tiny products gain nothing from a second thread, and on a shared 2-core machine two
    OpenMP threads contend: one, restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def digits_mlps(tmp_path_factory):
    """Three digits MLPs trained independently (seeds 1, 2, 3; 8 epochs, a second each):
    run folders, for the geometry tests (planes, curves, alignment)."""
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import DatasetSpec
    from lossviz_core.train import TrainSpec, iter_training

    root = tmp_path_factory.mktemp("mlps")
    runs = []
    for seed in (1, 2, 3):
        spec = TrainSpec(model="digits_mlp", dataset=DatasetSpec("digits"), epochs=8, lr=0.05,
                         batch_size=32, weight_decay=0.0, seed=seed)
        runs.append(drain(iter_training(spec, root / f"mlp{seed}")))
    return runs
