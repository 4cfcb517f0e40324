reservation "exp" {
  site  = "rennes"
  nodes = 0
  types = ["deplyo"]
  start = "tomorrow"
}

reservation "groups" {
  site    = "rennes"
  cluster = "paravance"
  nodes   = { paravance = 2 }
}

deployment "os" {
  environment = "debian12@"
  nodes       = reservation.exp.nodes
}

container "db" {
  node  = reservation.exp.nodes[0]
  image = "redis 7"
  env   = { "1BAD" = "x" }
  ports = { "80000" = 80, "8080" = 0 }
}

run "both" {
  nodes     = reservation.exp.nodes
  container = container.db.id
  command   = "true"
}

run "nowhere" {
  command = "true"
}
