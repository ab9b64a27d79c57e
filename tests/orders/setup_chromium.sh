#!/bin/sh
# Installs Debian's chromium and chromedriver for the orders browser test, when missing.
# Run by the test set-up (tests/orders/browser.py) and by `make browser`; needs root for apt.
set -e
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "chromium/chromedriver missing: run 'apt-get install -y chromium chromium-driver' as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null || {
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null
}
