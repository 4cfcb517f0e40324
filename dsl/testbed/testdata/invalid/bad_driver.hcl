site "rennes" {
  cluster "paravance" {
    driver "ssh" {
      host = "paravance-1"
    }
    driver "sim" {}
    driver "docker" {
      host = "unix:///var/run/docker.sock"
    }
    nodes {
      count = 1
      name  = "paravance-%d"
      properties {
        cores  = 1
        memory = "1GiB"
      }
    }
  }
}
