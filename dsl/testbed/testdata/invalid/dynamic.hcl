site "rennes" {
  description = upper("rennes")
  location    = var.location
  cluster "a" {
    queues = [for q in ["default", "admin"] : q]
    driver "sim" {
      seed = 6 * 7
    }
    node "a-1" {
      properties {
        cores  = 4 * 4
        memory = "${64 * 2}GiB"
      }
    }
  }
}
