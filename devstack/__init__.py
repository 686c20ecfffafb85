"""Developer tools that compose every service (the `baoxue` command, the process plan, the demo); the ground
(contracts, services.runtime) never imports this package."""
