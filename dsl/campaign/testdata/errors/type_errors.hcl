reservation "exp" {
  site  = "rennes"
  nodes = "four"
}

deployment "os" {
  environment = "debian12-min"
  nodes       = reservation.exp.id
}

run "hello" {
  nodes   = deployment.os.ok_nodes
  command = ["hostname"]
  env     = { A = [1] }
}

container "db" {
  node  = deployment.os.ok_nodes
  image = "redis:7"
}
