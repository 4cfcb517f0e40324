site "rennes" {
  cluster "empty" {
    description = "Hardware still in boxes"
    driver "sim" {}
  }
}

site "lyon" {
  name = "Lyon"
}
