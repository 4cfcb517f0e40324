reservation "exp" {
  sitee = "rennes"
  nodes = 2
  wall  = "1h"
}

run "hello" {
  nodes   = reservation.exp.nodes
  command = "hostname"

  env {
    A = "1"
  }
}
