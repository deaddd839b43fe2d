import time

from PIL import Image

from studio.core.gallery import Gallery
from studio.core.requests import GenerationRequest


def _image(path, color):
    Image.new("RGB", (64, 48), color).save(path)
    return path


def test_gallery_indexes_filters_stars_and_trashes_recoverably(tmp_path, studio_home):
    gallery = Gallery()
    try:
        red = gallery.add(_image(tmp_path / "r.png", "red"), GenerationRequest(model="demo", prompt="a red circle"), 1)
        blue = gallery.add(_image(tmp_path / "b.png", "blue"),
                           GenerationRequest(model="/models/sd15", prompt="a blue 100% square_"), 2)
        assert Image.open(red.thumbnail).size[0] <= 256
        assert red.request.seed == 1 and red.request.prompt == "a red circle"
        assert [i.id for i in gallery.search()] == [blue.id, red.id]
        assert [i.id for i in gallery.search(text="red")] == [red.id]
        assert [i.id for i in gallery.search(text="100%")] == [blue.id]
        assert [i.id for i in gallery.search(text="1%0")] == []  # LIKE wildcards are literal
        assert [i.id for i in gallery.search(model="sd15")] == [blue.id]
        assert gallery.search(since=time.time() + 60) == []
        gallery.set_starred(red.id)
        assert [i.id for i in gallery.search(starred=True)] == [red.id]
        gallery.trash(blue.id)
        assert [i.id for i in gallery.search()] == [red.id]
        assert [i.id for i in gallery.search(trashed=True)] == [blue.id]
        assert (tmp_path / "b.png").exists()  # trash is recoverable
        gallery.restore(blue.id)
        assert len(gallery.search()) == 2
        gallery.trash(blue.id)
        assert gallery.empty_trash() == 1
        assert not (tmp_path / "b.png").exists()
    finally:
        gallery.close()
    reopened = Gallery()  # a real file: it survives a restart
    try:
        assert [i.id for i in reopened.search()] == [red.id]
        assert reopened.get(red.id).starred
    finally:
        reopened.close()


def test_a_small_image_is_its_own_thumbnail_and_a_large_one_is_shrunk(tmp_path, studio_home):
    gallery = Gallery()
    try:
        small = gallery.add(_image(tmp_path / "s.png", "red"), GenerationRequest(model="demo", prompt="s"), 1)
        Image.new("RGB", (1024, 512), "blue").save(tmp_path / "l.png")
        large = gallery.add(tmp_path / "l.png", GenerationRequest(model="demo", prompt="l"), 2)
        assert small.thumbnail == small.path
        assert large.thumbnail != large.path and Image.open(large.thumbnail).size == (256, 128)
        gallery.trash(small.id)
        assert gallery.empty_trash() == 1 and not (tmp_path / "s.png").exists()
    finally:
        gallery.close()
