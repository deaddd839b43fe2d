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
