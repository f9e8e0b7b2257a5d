"""Server-rendered pages people use in a browser (review pages, admin page).

May import ``ops``, ``outbox`` and ``connect``; never the Jira client.
"""
