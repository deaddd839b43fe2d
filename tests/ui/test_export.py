"""The export dialog: the visible mark lands where it was placed (pixels of the exported file and of
the preview), the export runs as a job with progress, and cancelling leaves no half-written file."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.jobs import JobState

GREY = (90, 90, 90)


def _region(image: Image.Image, box: tuple[float, float, float, float]) -> np.ndarray:
    w, h = image.size
    x0, y0, x1, y1 = box
    return np.asarray(image.convert("RGB"))[int(y0 * h): int(y1 * h), int(x0 * w): int(x1 * w)].astype(int)


def test_visible_mark_appears_at_the_chosen_anchor(make_window, qtbot, tmp_path) -> None:
    source = tmp_path / "source.png"
    Image.new("RGB", (400, 300), GREY).save(source)
    out = tmp_path / "out"
    out.mkdir()
    window = make_window()
    dialog = window.export_images([str(source)])
    dialog.folder.setText(str(out))
    dialog.template.setText("{stem}-{n}")
    dialog.format.setCurrentText("png")
    dialog.invisible.setChecked(False)
    dialog.mark_text.setChecked(True)
    dialog.text.setText("STUDIO")
    dialog.anchor.setCurrentText("top-left")
    dialog.opacity.setValue(100)
    dialog.scale.setValue(40)
    qtbot.waitUntil(lambda: getattr(dialog, "preview_image", None) is not None, timeout=10_000)
    dialog.update_preview()
    preview = dialog.preview_image
    assert _region(preview, (0, 0, 0.5, 0.3)).max() > 200  # white text in the top-left corner
    assert (_region(preview, (0.5, 0.5, 1, 1)) == GREY).all()

    progress: list[tuple[int, int]] = []
    window.bridge.progress.connect(lambda job_id, step, total, _m: progress.append((step, total)))
    assert dialog.start_export()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=60_000)
    assert "Exported 1 image" in dialog.status.text(), dialog.status.text()
    written = Image.open(out / "source-1.png")
    assert written.size == (400, 300)
    corner = _region(written, (0, 0, 0.5, 0.3))
    assert corner.max() > 200  # the mark is there, at full opacity …
    assert (_region(written, (0.5, 0.3, 1, 1)) == GREY).all()  # … and nowhere else
    assert (1, 1) in progress
    dialog.close()


def test_batch_export_shows_progress_and_cancel_leaves_no_partial_file(make_window, qtbot, tmp_path) -> None:
    sources = []
    for i in range(3):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (64, 48), (30 * i, 60, 90)).save(path)
        sources.append(str(path))
    out = tmp_path / "batch"
    out.mkdir()
    window = make_window()
    dialog = window.export_images(sources)
    dialog.folder.setText(str(out))
    dialog.template.setText("{n}")
    dialog.invisible.setChecked(False)
    assert dialog.start_export()
    assert dialog.cancel_button.isVisible()
    job_id = dialog.job_id
    dialog.cancel_export()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=60_000)
    job = window.session.queue.get(job_id)
    assert job.state in (JobState.CANCELLED, JobState.DONE)
    written = sorted(p.name for p in out.iterdir())
    assert all(not name.startswith(".") for name in written)  # no temp file left behind
    for name in written:
        Image.open(out / name).load()  # every file there is complete
    if job.state is JobState.CANCELLED:
        assert "cancelled" in dialog.status.text()

    # a second run of the same batch into the same folder renames rather than overwriting
    assert dialog.start_export()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=60_000)
    assert "Exported 3 images" in dialog.status.text(), dialog.status.text()
    assert len(list(out.iterdir())) == len(written) + 3
    dialog.close()


def test_export_errors_are_clear_and_write_nothing(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    dialog = window.export_images([str(tmp_path / "missing.png")])
    dialog.folder.setText(str(tmp_path / "nowhere"))
    assert not dialog.start_export()
    assert "does not exist" in dialog.status.text()
    dialog.folder.setText(str(tmp_path))
    assert dialog.start_export()
    qtbot.waitUntil(lambda: dialog.job_id is None, timeout=60_000)
    assert "Export failed" in dialog.status.text() and "missing.png" in dialog.status.text()
    dialog.close()
