"""Arguments that watch how a student's code uses them, and cross the sandbox as data.

* :class:`WatchedBatches`, a loader whose batches note when they are moved with
  ``.to(...)``: a training loop must move each batch to the model's device, and on a
  CPU-only machine the move changes nothing else that could be seen.
* :class:`AugmentProbe`, an augmentation that records how it is called (shape, dtype,
  value range, whether it got a ``torch.Generator``) and draws its shift from that
  generator.

Both are plain data (tensors, numbers and what they observed), so the grader can send them
to where the student's function runs and read back what happened there
(``autograder.worker`` knows these classes).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

__all__ = ["AugmentProbe", "WatchedBatches"]


@functools.cache
def _watched_tensor() -> type:
    import torch

    class Watched(torch.Tensor):
        """A batch tensor that records its ``.to(...)`` calls in its loader's list."""

        @classmethod
        def __torch_function__(cls, func: Any, types: Any, args: tuple = (),
                               kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            if func is torch.Tensor.to:
                moves = getattr(args[0], "_course_moves", None)
                if moves is not None:
                    target = kwargs.get("device", args[1] if len(args) > 1 else None)
                    moves.append(str(target))
                return args[0].as_subclass(torch.Tensor).to(*args[1:], **kwargs)
            return super().__torch_function__(func, types, args, kwargs)

    return Watched


class WatchedBatches:
    """Mini-batches of ``(images, labels)`` in order, like a ``DataLoader`` without shuffling.

    Parameters
    ----------
    images, labels : torch.Tensor
        The whole data set (first axis: items).
    batch_size : int
        Items per batch (the last batch may be smaller).

    Attributes
    ----------
    moves : list of str
        The target of every ``.to(...)`` called on a batch tensor handed out, in order.
    handed_out : int
        Batches handed out so far.
    dataset : torch.utils.data.TensorDataset
        The items (so that ``len(loader.dataset)`` works as with a ``DataLoader``).
    """

    def __init__(self, images: Any, labels: Any, batch_size: int) -> None:
        import torch

        self.images, self.labels, self.batch_size = images, labels, int(batch_size)
        self.dataset = torch.utils.data.TensorDataset(images, labels)
        self.moves: list[str] = []
        self.handed_out = 0

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        watched = _watched_tensor()
        for start in range(0, len(self.images), self.batch_size):
            self.handed_out += 1
            batch = []
            for part in (self.images, self.labels):
                tensor = part[start:start + self.batch_size].as_subclass(watched)
                tensor._course_moves = self.moves
                batch.append(tensor)
            yield batch[0], batch[1]


class AugmentProbe:
    """An augmentation that records its calls and adds a shift drawn from the generator.

    Attributes
    ----------
    calls : list of tuple
        ``(shape, dtype, min, max)`` of each batch it was given.
    bad_generator : bool
        Whether it was ever called without a ``torch.Generator`` (then it uses its own).
    """

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], Any, float, float]] = []
        self.bad_generator = False

    def __call__(self, images: Any, generator: Any = None) -> Any:
        import torch

        if not isinstance(generator, torch.Generator):
            self.bad_generator = True
            generator = torch.Generator().manual_seed(12345)
        self.calls.append((tuple(images.shape), images.dtype, float(images.min()),
                           float(images.max())))
        return images + torch.rand(1, generator=generator) * 0.5
