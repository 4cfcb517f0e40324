reservation "exp" {
  nodes = 2
}

deployment "os" {
  nodes = reservation.exp.nodes
}

run "hello" {
  nodes = reservation.exp.nodes
}

container "db" {
  node  = reservation.exp.nodes[0]
  image = "redis:7"

  init {
    args = ["-D"]
  }
}
