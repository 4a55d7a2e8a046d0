from fakeqemu.cli import main

raise SystemExit(main())
