"""レセプト資格過誤の事前点検 (issue 15): claims checked against the tickets before submission."""
