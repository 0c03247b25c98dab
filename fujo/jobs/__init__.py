"""Jobs (issue 13): work asked over HTTP that runs outside the request — the CSV imports."""
