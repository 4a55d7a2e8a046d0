module fakeqemu.example/controlapi

go 1.19
