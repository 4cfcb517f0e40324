reservation "exp" {
  site  = "rennes"
  nodes = 2
}

run "a" {
  nodes   = reservation.exp.nodes
  command = "echo ${run.c.stdout}"
}

run "b" {
  nodes   = reservation.exp.nodes
  command = "echo ${run.a.stdout}"
}

run "c" {
  nodes      = reservation.exp.nodes
  command    = "true"
  depends_on = [run.b]
}

run "d" {
  nodes   = reservation.exp.nodes
  command = "echo ${run.a.stdout}"
}
