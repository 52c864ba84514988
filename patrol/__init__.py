"""The patrol car's side of GridWatch: cameras and GPS to the command centre, store and forward when offline."""
