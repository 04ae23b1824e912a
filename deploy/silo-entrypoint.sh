#!/bin/sh
# The silo image's ENTRYPOINT; runs in WORKDIR /app. The grain transport advertises an IP address, never a name, and a
# silo listening on 0.0.0.0 must be told which: unless the deployment sets OLM_Cluster__AdvertisedHost (Kubernetes can
# pass the pod IP), advertise the container's own IPv4 address, the one its host name resolves to (Docker writes it to
# /etc/hosts), which every container on its network can dial.
set -eu

case "${OLM_Cluster__Listen:-}" in
  0.0.0.0:*)
    if [ -z "${OLM_Cluster__AdvertisedHost:-}" ]; then
      for address in $(hostname -i); do
        case "$address" in
          *.*.*.*) OLM_Cluster__AdvertisedHost=$address; break ;;
        esac
      done
      : "${OLM_Cluster__AdvertisedHost:?no IPv4 address for $(hostname) (hostname -i); set OLM_Cluster__AdvertisedHost}"
      export OLM_Cluster__AdvertisedHost
    fi
    ;;
esac

# exec: the silo itself receives docker stop's SIGTERM, and leaves its cluster gracefully.
exec ./OrleansLm.Silo "$@"
