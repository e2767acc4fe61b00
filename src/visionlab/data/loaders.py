"""Training loaders whose randomness is seeded per epoch, so a resumed epoch repeats the
uninterrupted one."""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import DataLoader, get_worker_info

from visionlab.utils.seeding import seed_all


class EpochSeededLoader(DataLoader):
    """A loader that, when an epoch's iteration starts, seeds everything the epoch draws from
    with `epoch_seed()`: the shuffle order, the workers' seeds, the augmentations run in this
    process and the global generators (dropout). With `seed + epoch` as that seed, epoch k is
    the same whether the run went straight through or resumed from the checkpoint of epoch k-1.
    """

    def __init__(self, *args, epoch_seed: Callable[[], int | None], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.epoch_seed = epoch_seed

    def __iter__(self):
        seed = self.epoch_seed()
        if seed is not None and self.generator is not None:
            seed_all(seed)
            self.generator.manual_seed(seed)
            self.dataset.set_random_seed(seed)
        return super().__iter__()


def seed_worker(worker_id: int) -> None:
    """Seed a loader worker's generators and augmentations from the seed torch gave it
    (the loader's base seed, drawn from the seeded main process, plus the worker id)."""
    info = get_worker_info()
    seed_all(info.seed)
    info.dataset.set_random_seed(info.seed % 2**32)
