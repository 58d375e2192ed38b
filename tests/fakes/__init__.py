"""Stand-ins for the external trainers (musubi-tuner, sd-scripts, accelerate); see README.md."""
