reservation "exp" {
  site  = "rennes"
  nodes = 2
}

run "a" {
  nodes   = reservation.exp.nodes
  command = "echo ${count.index}"
}

run "b" {
  count   = 2
  nodes   = reservation.exp.nodes
  command = "echo ${each.key}"
}

output "i" {
  value = count.index
}
