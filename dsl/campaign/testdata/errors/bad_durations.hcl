reservation "exp" {
  site     = "rennes"
  nodes    = 2
  walltime = "2 hours"
}

deployment "os" {
  environment = "debian12-min"
  nodes       = reservation.exp.nodes

  timeouts {
    write = 0
    boot  = "01:75:00"
  }
}

run "a" {
  nodes   = reservation.exp.nodes
  command = "sleep ${duration("forever")}"
}
