"""View-models shaped like a request, and ``bind()`` to keep a widget and one of their fields in step.

A panel's settings live in a :class:`RequestViewModel`: one frozen request (``GenerationRequest``,
``TextRequest`` …) replaced field by field as the user edits, so building the job's request is
``model.state.replace(...)`` and "Use these settings" is :meth:`RequestViewModel.set_request` — one
step, no per-field code. Initial values are the request's own defaults; widgets only show them.

``bind(model, "steps", spin_box, "value")`` (krita-ai-diffusion's idea) sets the widget's Qt property
from the field and the field from the widget's notify signal, converting with ``to_widget`` /
``from_widget`` where the two differ (a seed of ``None`` shows as −1, "Random").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from studio.core.requests import ControlRef, GenerationRequest, LoraRef, Request, TextRequest, field_range

R = TypeVar("R", bound=Request)

# Qt property → the signal a widget emits when the user changes it
NOTIFY = {
    "value": "valueChanged",
    "plainText": "textChanged",
    "text": "textChanged",
    "currentText": "currentTextChanged",
    "checked": "toggled",
}


class RequestViewModel(QObject, Generic[R]):
    """The fields ``fields`` of a request of type ``cls``, held as one request (``state``).

    ``changed(name)`` is emitted for each field whose value changed (after the whole update, so a
    listener sees the new state of every field :meth:`set_request` changed)."""

    changed = Signal(str)

    def __init__(self, cls: type[R], fields: Iterable[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cls = cls
        self.fields = tuple(fields)
        self.state: R = cls()

    def get(self, name: str) -> Any:
        return getattr(self.state, name)

    def set(self, name: str, value: Any) -> None:
        self.update({name: value})

    def update(self, values: dict[str, Any]) -> list[str]:
        """Take the panel fields found in ``values`` (other keys are ignored); returns the names changed."""
        changes = {k: self.coerce(k, v) for k, v in values.items() if k in self.fields}
        changed = [k for k, v in changes.items() if getattr(self.state, k) != v]
        if changed:
            self.state = self.state.replace(**{k: changes[k] for k in changed})  # type: ignore[assignment]
            for name in changed:
                self.changed.emit(name)
        return changed

    def set_request(self, request: Request) -> list[str]:
        """Every panel field from ``request`` (e.g. a gallery image's or a job's)."""
        return self.update({name: getattr(request, name) for name in self.fields if hasattr(request, name)})

    def values(self) -> dict[str, Any]:
        return {name: getattr(self.state, name) for name in self.fields}

    def coerce(self, name: str, value: Any) -> Any:
        """``value`` in the type the request field holds (recalled files give strings, lists)."""
        default = getattr(self.cls(), name)
        if value is None or default is None:
            return value
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return str(value)
        return value


_NOT_EDITED = frozenset({"init_image", "mask", "backend", "device"})  # the canvas and the settings give them


class PromptViewModel(RequestViewModel[GenerationRequest]):
    """The prompt panel's state: every field of a :class:`GenerationRequest` the panel edits.

    Not here: the init image and mask (the canvas gives them when the request is made), backend and
    device (the settings')."""

    # every other field of the request: a field added to GenerationRequest is in the state at once
    FIELDS = tuple(f.name for f in dataclasses.fields(GenerationRequest) if f.name not in _NOT_EDITED)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(GenerationRequest, self.FIELDS, parent)

    def coerce(self, name: str, value: Any) -> Any:
        if name == "loras":
            return tuple(v if isinstance(v, LoraRef) else LoraRef(str(v[0]), float(v[1])) for v in value or ())
        if name == "controls":  # recalled from a picture's record: mappings
            return tuple(v if isinstance(v, ControlRef) else ControlRef(**v) if isinstance(v, dict) else ControlRef(*v)
                         for v in value or ())
        if name == "seed":
            return None if value is None or int(value) < 0 else int(value)
        return super().coerce(name, value)

    def request(self, **overrides: Any) -> GenerationRequest:
        return self.state.replace(**overrides)  # type: ignore[return-value]


class TextSettingsViewModel(RequestViewModel[TextRequest]):
    """The editor's sampling settings: the :class:`TextRequest` fields its actions share."""

    FIELDS = ("model", "max_new_tokens", "seed", "temperature", "top_p", "top_k", "repetition_penalty",
              "watermark")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(TextRequest, self.FIELDS, parent)

    def coerce(self, name: str, value: Any) -> Any:
        if name == "seed":
            return None if value is None or int(value) < 0 else int(value)
        return super().coerce(name, value)

    def request(self, **overrides: Any) -> TextRequest:
        return self.state.replace(**overrides)  # type: ignore[return-value]


def seed_to_widget(seed: int | None) -> int:
    return -1 if seed is None else seed


def seed_from_widget(value: float) -> int | None:
    return None if value < 0 else int(value)


class Binding(QObject):
    """Keeps a widget and ``model``'s field ``name`` equal (see :func:`bind`)."""

    def __init__(
        self,
        model: RequestViewModel,
        name: str,
        widget: QWidget,
        read: Callable[[], Any],
        write: Callable[[Any], None],
        signal: Any,
    ) -> None:
        super().__init__(widget)
        self.model, self.name, self.widget = model, name, widget
        self._read, self._write = read, write
        self._busy = False
        signal.connect(self._widget_changed)
        model.changed.connect(self._model_changed)
        self._model_changed(name)

    def _model_changed(self, name: str) -> None:
        if name != self.name or self._busy:
            return
        value = self.model.get(name)
        if self._read() != value:
            self._busy = True
            try:
                self._write(value)
            finally:
                self._busy = False

    def _widget_changed(self, *_args: object) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self.model.set(self.name, self._read())
        finally:
            self._busy = False


def bind(
    model: RequestViewModel,
    name: str,
    widget: QWidget,
    prop: str = "value",
    *,
    to_widget: Callable[[Any], Any] = lambda v: v,
    from_widget: Callable[[Any], Any] = lambda v: v,
    read: Callable[[], Any] | None = None,
    write: Callable[[Any], None] | None = None,
    signal: Any = None,
) -> Binding:
    """Show ``model``'s field ``name`` in ``widget``'s Qt property ``prop`` and write edits back.

    ``to_widget``/``from_widget`` convert between the field and the property; a widget without a
    fitting property gives ``read()`` (the field's value as the widget says it), ``write(value)`` and
    the ``signal`` it emits on edits instead. The widget takes the field's value at once; the binding
    lives as long as the widget."""
    if read is None:
        read = lambda: from_widget(widget.property(prop))  # noqa: E731
    if write is None:
        write = lambda value: widget.setProperty(prop, to_widget(value))  # noqa: E731
    return Binding(model, name, widget, read, write, signal if signal is not None else getattr(widget, NOTIFY[prop]))


def set_range(box: QWidget, cls: type[Request], name: str) -> None:
    """A spin box's range from the request definition (``field_range``)."""
    low, high = field_range(cls, name)
    box.setRange(low, high)  # type: ignore[attr-defined]
