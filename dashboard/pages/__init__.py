"""Dash pages: each module registers itself with dash.register_page when the app loads this folder."""
