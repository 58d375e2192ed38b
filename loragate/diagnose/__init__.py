"""From the artist's words about the pictures to ranked causes, the evidence for each, and one next step."""
