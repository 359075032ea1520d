from eventd.cli import main

raise SystemExit(main())
