# order: reservation.exp, deployment.os, transfer.data, run.setup, run.bench
# levels: 0, 1, 2, 2, 3
run "bench" {
  nodes      = deployment.os.ok_nodes
  command    = "bench --input /tmp/data"
  depends_on = [run.setup]
}

transfer "data" {
  files {
    source      = "http://data.example.org/set.tar"
    destination = "node://${deployment.os.ok_nodes[0]}/tmp/data"
  }
}

run "setup" {
  nodes   = deployment.os.ok_nodes
  command = "mkdir -p /tmp/data"
}

deployment "os" {
  environment = "debian12-min@2024.1"
  nodes       = reservation.exp.nodes
}

reservation "exp" {
  site  = "rennes"
  nodes = 2
  types = ["deploy"]
}
