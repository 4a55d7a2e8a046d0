"""``POST /reset`` (FakeQemu.reset): the machine as it started, in the same object."""

from __future__ import annotations

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.machine import RunState, VirtualMachine
from tests.support.strict import make_fake


def run_state(vm: VirtualMachine) -> tuple[RunState, bool, int | None]:
    # Read through a function: mypy would keep the narrowed types from before reset().
    return vm.runstate, vm.quit_requested, vm.exit_status


def test_reset_undoes_what_running_changed_and_keeps_the_configuration() -> None:
    fake = make_fake(FakeQemuConfig(profile="10.0", memory=1 << 30, name="guest"))
    vm = fake.vm
    observers, hardware, descriptors = vm.status_observers, vm.hardware, vm.descriptors
    vm.stop()
    vm.quit_requested = True
    vm.exit_status = 1
    assert run_state(vm) == (RunState.PAUSED, True, 1)

    fake.reset()

    assert fake.vm is vm  # sessions and commands hold this object
    assert run_state(vm) == (RunState.RUNNING, False, None)
    assert (vm.outgoing, vm.incoming_migration) == (None, None)
    assert (vm.profile.name, vm.memory, vm.name) == ("10.0", 1 << 30, "guest")
    assert vm.status_observers is observers
    assert vm.hardware is hardware
    assert vm.descriptors is descriptors


def test_a_destination_waits_for_its_migration_again_after_reset() -> None:
    fake = make_fake(FakeQemuConfig(incoming="defer"))
    fake.vm.runstate = RunState.RUNNING  # as after a completed incoming migration
    fake.reset()
    assert fake.vm.runstate is RunState.INMIGRATE
