# order: reservation.src, reservation.dst, run.checksum, transfer.copy, container.svc, run.in_container
# levels: 0, 0, 1, 2, 3, 4
reservation "src" {
  site  = "rennes"
  nodes = 1
}

reservation "dst" {
  site  = "lyon"
  nodes = 1
}

run "checksum" {
  nodes   = reservation.src.nodes
  command = "sha256sum /tmp/data | cut -d ' ' -f 1"
}

transfer "copy" {
  files {
    source      = "node://${reservation.src.nodes[0]}/tmp/data"
    destination = "node://${reservation.dst.nodes[0]}/tmp/data"
    checksum    = "sha256:${trimspace(run.checksum.stdout)}"
  }
}

container "svc" {
  node  = reservation.dst.nodes[0]
  image = "alpine:3"

  init {
    command = "sleep"
    args    = ["infinity"]
    env     = { COPIED = transfer.copy.id }
  }
}

run "in_container" {
  container = container.svc.id
  command   = "ls /tmp"
}
