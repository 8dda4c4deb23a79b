// Package console drives the worker's web console (admin/ui) in a real headless Chromium
// (Debian's chromium, through chromedp) against real `rmqconnect distributed` worker processes
// and a real RocketMQ: the scenarios an operator goes through, checked from what the page shows
// and cross-checked with the REST API. The screenshots in docs/console/ are taken by these
// tests (go test ./tests/console -run TestConsole -update-screenshots).
package console
