#!/usr/bin/env bash
# A second Docker node on this machine, for the two-node Swarm test (integration/swarm_nodes.rs):
# a network namespace joined to the host by a veth pair, and a dockerd inside it with its own
# data root, exec root, pid file and socket. Everything lives under DIR and is named by TAG.
#
#   swarm-worker.sh up   DIR TAG HOST_IP NODE_IP   # prints nothing; the socket is DIR/docker.sock
#   swarm-worker.sh down DIR TAG                   # stops the daemon, removes namespace and veth
#
# The daemon pulls from 127.0.0.1:PORT registries (Docker allows plain HTTP on loopback), so a
# test forwards the namespace's 127.0.0.1:PORT to the registry on the host end of the veth.
set -euo pipefail
cmd=$1 dir=$2 tag=$3
ns="pt-$tag" vh="vh-$tag" vn="vn-$tag"
case "$cmd" in
up)
  host_ip=$4 node_ip=$5
  mkdir -p "$dir/data" "$dir/exec"
  ip netns add "$ns"
  ip link add "$vh" type veth peer name "$vn"
  ip link set "$vn" netns "$ns"
  ip addr add "$host_ip/24" dev "$vh"
  ip link set "$vh" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "$node_ip/24" dev "$vn"
  ip netns exec "$ns" ip link set "$vn" up
  ip netns exec "$ns" ip route add default via "$host_ip"
  # nsenter --net, not `ip netns exec`: that also remounts /sys, hiding the cgroup mounts dockerd
  # needs; setsid: the daemon outlives this script (its pid is in DIR/docker.pid)
  setsid nsenter --net="/var/run/netns/$ns" dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    -H "unix://$dir/docker.sock" --bridge none \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  daemon=$!
  for _ in $(seq 1 150); do
    kill -0 "$daemon" 2>/dev/null || break
    if [ -S "$dir/docker.sock" ] && curl -sf --unix-socket "$dir/docker.sock" http://d/_ping >/dev/null; then
      exit 0
    fi
    sleep 0.2
  done
  echo "the second dockerd did not answer; its log:" >&2
  tail -20 "$dir/dockerd.log" >&2
  exit 1
  ;;
down)
  if [ -f "$dir/docker.pid" ]; then
    pid=$(cat "$dir/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # mounts the daemon left (overlay layers, netns files) under DIR
  { grep -o " $dir[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$vh" 2>/dev/null || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 up DIR TAG HOST_IP NODE_IP | down DIR TAG" >&2
  exit 2
  ;;
esac
