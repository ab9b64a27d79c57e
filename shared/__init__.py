"""The common library of the services: imported by them, never run on its own."""
