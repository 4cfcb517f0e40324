reservation "exp" {
  site       = "rennes"
  nodes      = 2
  on_failure = "retry"
}

run "a" {
  nodes      = reservation.exp.nodes
  command    = "true"
  on_failure = "ignore"
  timeout    = "-5m"
}

run "b" {
  nodes   = reservation.exp.nodes
  command = "true"

  on_failure {
    retry {
      attempts = 0
      backoff  = "soon"
    }
    then = "carry on"
  }
}

run "c" {
  nodes      = reservation.exp.nodes
  command    = "true"
  on_failure = "abort"

  on_failure {
    retry {
      attempts = 2
    }
  }
}

run "d" {
  nodes      = reservation.exp.nodes
  command    = "true"
  on_failure = run.a.stdout
}
