# order: reservation.c, reservation.a, reservation.b, run.x
# levels: 0, 0, 0, 1
reservation "c" {
  site  = "nancy"
  nodes = 1
}

reservation "a" {
  site  = "rennes"
  nodes = 1
}

run "x" {
  nodes   = concat(reservation.a.nodes, reservation.b.nodes)
  command = "true"
}

reservation "b" {
  site  = "lyon"
  nodes = 1
}
