"""The console's pages: sign-in, event list, event page and review, dashboard, export, audit."""
