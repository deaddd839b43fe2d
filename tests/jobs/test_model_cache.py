from studio.session import ModelCache


class Model:
    """A stand-in loaded model of a given size (the cache only sees the LoadedModel protocol)."""

    def __init__(self, name, size, unloaded):
        self.name, self.memory_bytes, self.unloaded = name, size, unloaded

    def run(self, request, report, cancelled):
        raise NotImplementedError

    def unload(self):
        self.unloaded.append(self.name)


def test_switching_back_is_instant_and_the_budget_evicts_least_recent_first():
    unloaded, loads = [], []

    def loader(name, size):
        def load():
            loads.append(name)
            return Model(name, size, unloaded)
        return load

    cache = ModelCache(max_models=5, budget_bytes=100)
    a = cache.get(("a",), loader("a", 40))
    cache.get(("b",), loader("b", 40))
    assert cache.get(("a",), loader("a", 40)) is a  # no second load
    cache.get(("c",), loader("c", 40))  # 120 > 100: b is the least recently used
    assert loads == ["a", "b", "c"] and unloaded == ["b"]
    cache.get(("huge",), loader("huge", 500))  # alone over budget: kept, everything else goes
    assert unloaded == ["b", "a", "c"]
    cache.clear()
    assert unloaded == ["b", "a", "c", "huge"]


def test_a_model_whose_files_changed_is_unloaded_before_it_is_loaded_again():
    unloaded, loads = [], []

    def load(name):
        def go():
            loads.append((name, list(unloaded)))  # what had been unloaded when this load began
            return Model(name, 1, unloaded)
        return go

    cache = ModelCache()
    first = cache.get(("a",), load("a1"), signature=(1,))
    assert cache.get(("a",), load("a2"), signature=(1,)) is first  # files unchanged: no load
    second = cache.get(("a",), load("a2"), signature=(2,))  # files changed on disk
    assert second is not first
    assert loads == [("a1", []), ("a2", ["a1"])]  # the stale model went before the new load
    assert cache.get(("a",), load("a3"), signature=(2,)) is second
