"""Ways to show an exercise: text for terminals (tables and timelines); more to come."""
