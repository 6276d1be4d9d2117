#!/bin/sh
# The system tools the tests use, installed with the system package manager when
# missing (as root, on Debian/Ubuntu); otherwise the command to run is printed.
#   ssh-keygen (openssh-client): the signing tests make keys the way operators do.
#   nats-server: the scale-out tests start their own JetStream server.
set -eu

need() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $2 (for $1)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
        }
    else
        echo "error: $1 is missing; install the $2 package (e.g. sudo apt-get install $2)" >&2
        exit 1
    fi
}

need ssh-keygen openssh-client
need nats-server nats-server
