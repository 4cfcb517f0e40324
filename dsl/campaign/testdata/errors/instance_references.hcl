reservation "exp" {
  site  = "rennes"
  nodes = 2
}

run "bench" {
  count   = 3
  nodes   = reservation.exp.nodes
  command = "true"
}

run "per_site" {
  for_each = toset(["a", "b"])
  nodes    = reservation.exp.nodes
  command  = "true"
}

output "codes" {
  value = run.bench.exit_code
}

output "first" {
  value = reservation.exp[0].nodes
}

output "sites" {
  value = run.per_site.stdout
}

output "out_of_range" {
  value = run.bench[5].exit_code
}

output "no_such_key" {
  value = run.per_site["c"].exit_code
}

output "misspelt" {
  value = run.bench[0].exitcode
}
