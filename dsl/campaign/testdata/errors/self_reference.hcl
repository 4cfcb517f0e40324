reservation "exp" {
  site  = "rennes"
  nodes = 2
}

run "loop" {
  nodes   = reservation.exp.nodes
  command = "echo ${run.loop.stdout}"
}

run "wait" {
  nodes      = reservation.exp.nodes
  command    = "true"
  depends_on = [run.wait, run.loop.stdout, "run.loop", run.nope]
}
